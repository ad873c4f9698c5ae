"""Seventh randomized generator: Sprig string and regex functions over unicode/edge strings
and small/negative integers. `python3 gen_random7.py SEED COUNT`; record as for gen_random.py."""
import random, sys
random.seed(int(sys.argv[1]))
strs = ['"hello world"', '"Hello World Again And Again"', '""', '"a"', '"héllo wörld"', '"  lead and trail  "', '"one,two,,three"', '"CamelCaseString"', '"snake_case_here"', '"kebab-case-here"', '"MiXeD 123 abc"', '"x.y.z"', '"HTTPServer2xxOK"', '"a\\tb\\nc"', '"日本語テキスト"', '"ab" ', '"1234567890abcdef"']
ints = ['0', '1', '2', '3', '4', '5', '7', '10', '20', '-1', '-3']
regexes = ['"[a-z]+"', '"\\\\d+"', '"^h"', '"(o)(r)?"', '"\\\\s"', '"[aeiou]"', '"x*"', '"(?i)HELLO"', '"\\\\b\\\\w"', '"(\\\\w+)@(\\\\w+)"', '"["']
BIN = ['contains', 'hasPrefix', 'hasSuffix', 'trimAll', 'trimPrefix', 'trimSuffix', 'splitList', 'split', 'cat', 'replace "l"', 'plural "x"']
fn1 = ['trim', 'upper', 'lower', 'title', 'untitle', 'nospace', 'initials', 'swapcase', 'snakecase', 'camelcase', 'kebabcase', 'quote', 'squote', 'len', 'b64enc', 'b32enc', 'sha1sum', 'adler32sum', 'regexQuoteMeta', 'base', 'ext', 'clean', 'dir', 'html', 'js', 'urlquery', 'toStrings', 'sortAlpha']
def gen():
    r = random.random()
    s = random.choice(strs); s2 = random.choice(strs); i = random.choice(ints); j = random.choice(ints)
    if r < 0.15: return f'{{{{ {random.choice(fn1)} {s} }}}}'
    if r < 0.3: return f'{{{{ {random.choice(["trunc", "abbrev", "wrap", "indent", "nindent", "repeat"])} {i} {s} }}}}'
    if r < 0.4: return f'{{{{ substr {i} {j} {s} }}}}|{{{{ abbrevboth {i} {j} {s} }}}}|{{{{ wrapWith {i} "<>" {s} }}}}'
    if r < 0.55:
        fn = random.choice(BIN)
        return f'{{{{ {fn} {s} {s2} }}}}'
    if r < 0.65: return f'{{{{ splitn {s} {i} {s2} }}}}|{{{{ join {s} (splitList " " {s2}) }}}}'
    if r < 0.9:
        re = random.choice(regexes)
        f = random.choice(['regexMatch {re} {s}', 'regexFind {re} {s}', 'regexFindAll {re} {s} {i}', 'regexReplaceAll {re} {s} "[$1]"', 'regexReplaceAllLiteral {re} {s} "$1"', 'regexSplit {re} {s} {i}', 'mustRegexMatch {re} {s}'])
        return '{{ ' + f.format(re=re, s=s, i=i) + ' }}'
    return f'{{{{ printf "%q" (splitList "," {s}) }}}}|{{{{ {s} | {random.choice(fn1)} | {random.choice(fn1)} }}}}'
out=[]
for k in range(int(sys.argv[2])):
    out.append(f'### t{sys.argv[1]} {k}\n{gen()}\n--- values\n{{}}\n')
print(''.join(out))
