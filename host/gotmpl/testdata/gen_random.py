"""Generates randomized differential cases (random nestings of Sprig/builtin calls over a fixed
set of values) in oracle.txt format: `python3 gen_random.py SEED COUNT > random.txt`, then record
them with `ORACLE_IN=random.txt ORACLE_OUT=oracle_random.json python3 gen_oracle.py`."""
import random, json, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
atoms = ['.Values.s', '.Values.n', '.Values.f', '.Values.l', '.Values.m', '.Values.b', '.Values.missing', '.Values.e',
         '"abc"', '"Hello World"', '""', '"a,b,c"', '3', '0', '-2', '1.5', 'true', 'false', '"42"', '"x-y_z"', '(list 1 "a" 2.5)', '(dict "k" "v" "n" 1)', 'nil']
unary = ['upper', 'lower', 'title', 'trim', 'quote', 'squote', 'toString', 'len', 'not', 'empty', 'int', 'int64', 'float64', 'toJson', 'b64enc',
         'snakecase', 'camelcase', 'kebabcase', 'swapcase', 'initials', 'first', 'last', 'rest', 'reverse', 'uniq', 'compact', 'sortAlpha',
         'keys', 'typeOf', 'kindOf', 'toStrings', 'sha1sum', 'add1', 'floor', 'ceil', 'toPrettyJson', 'toRawJson', 'nospace', 'untitle', 'print', 'html', 'js', 'urlquery', 'values']
binary = ['add', 'sub', 'mul', 'max', 'min', 'eq', 'ne', 'default', 'contains', 'hasPrefix', 'repeat', 'trunc', 'indent', 'nindent', 'cat', 'join',
          'splitList', 'has', 'append', 'prepend', 'without', 'printf "%v-%v"', 'printf "%s|%d"', 'and', 'or', 'coalesce', 'index', 'ternary "y"', 'trimAll', 'plural "one"', 'addf', 'mulf', 'divf', 'subf', 'lt', 'gt', 'hasKey', 'get', 'pick', 'omit', 'regexMatch', 'regexFind', 'semverCompare']
def expr(d=0):
    r = random.random()
    if d > 2 or r < 0.3:
        return random.choice(atoms)
    if r < 0.65:
        return f'({random.choice(unary)} {expr(d+1)})'
    return f'({random.choice(binary)} {expr(d+1)} {expr(d+1)})'
cases = []
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 60):
    e = expr()
    if random.random() < 0.3:
        e = f'{e} | {random.choice(unary)}'
    cases.append(f'### rnd {i}\n{{{{ {e} }}}}\n--- values\n{{"s": "str", "n": 7, "f": 2.5, "l": [1, "two", null], "m": {{"a": 1, "b": "x"}}, "b": true, "e": ""}}\n')
print(''.join(cases))
