"""Eighth randomized generator: cast-style conversions, integer/decimal math and Sprig list
functions over odd inputs (nil, strings, typed slices). `python3 gen_random8.py SEED COUNT`."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"f": 3.7, "nf": -2.5, "big": 1e19, "s": "12", "l": [3, 1, 2, 1, null, "", "a"], "m": {"a": {"b": 1}, "n": null}, "e": []}'
scal = ['"42"', '"0x1F"', '"3.0"', '"3.5"', '"-7"', '"abc"', '""', '"1e3"', '"0777"', '" 5"', '"+3"', '3', '-3', '0', '2.5', '-0.5', 'true', 'false', 'nil', '.Values.f', '.Values.nf', '.Values.big', '.Values.s', '.Values.missing', '(add 1 2)']
conv = ['int', 'int64', 'float64', 'atoi', 'toDecimal', 'toString', 'add1', 'floor', 'ceil', 'empty', 'toJson', 'typeOf', 'kindOf']
lists = ['.Values.l', '.Values.e', '(list 1 2 3 4 5)', '(list)', '(splitList "," "a,b,c")', '(until 5)', '(list (list 1) (list 2))', '.Values.missing', '"str"', '.Values.m']
lfun = ['first', 'last', 'rest', 'initial', 'reverse', 'uniq', 'compact', 'sortAlpha', 'len', 'toStrings', 'empty', 'toJson', 'mustFirst', 'mustUniq']
def g():
    r = random.random()
    if r < 0.35: return '{{ %s %s }}' % (random.choice(conv), random.choice(scal))
    if r < 0.45: return '{{ %s %s %s }}' % (random.choice(['add', 'sub', 'mul', 'div', 'mod', 'max', 'min', 'addf', 'subf', 'mulf', 'divf', 'maxf', 'minf']), random.choice(scal), random.choice(scal))
    if r < 0.6: return '{{ %s %s }}' % (random.choice(lfun), random.choice(lists))
    if r < 0.75: return '{{ %s %s %s }}' % (random.choice(['append', 'prepend', 'has', 'without']), random.choice(lists), random.choice(scal)) if random.random() < 0.5 else '{{ has %s %s }}' % (random.choice(scal), random.choice(lists))
    if r < 0.85: return '{{ slice %s %s %s }}|{{ chunk %s %s }}' % (random.choice(lists), random.choice(['0', '1', '2', '5']), random.choice(['1', '2', '3', '9']), random.choice(['1', '2', '3']), random.choice(lists))
    if r < 0.92: return '{{ concat %s %s }}|{{ round %s %s }}' % (random.choice(lists), random.choice(lists), random.choice(scal), random.choice(['0', '1', '2']))
    return '{{ dig %s %s .Values.m }}|{{ pluck "a" .Values.m (dict "a" 2) }}|{{ get .Values.m %s }}' % (random.choice(['"a" "b"', '"a"', '"n"', '"x" "y"']), random.choice(scal), random.choice(['"a"', '"n"', '"zz"']))
out=[]
for k in range(int(sys.argv[2])):
    out.append(f'### c{sys.argv[1]} {k}\n{g()}\n--- values\n{vals}\n')
print(''.join(out))
