"""Second randomized generator: deeper Sprig/printf nestings inside range/with/if/assignments over
richer values. `python3 gen_random2.py SEED COUNT`; record as for gen_random.py."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"s": "Hello, Wörld", "n": 1000000, "f": 0.1, "neg": -3.75, "l": ["b", "a", "c", 3, null], "m": {"z": {"y": 1}, "a": [1, 2], "k": "v"}, "b": false, "e": "", "ver": "v1.27.3-gke.100", "url": "https://u:p@h.io:8443/x/y?q=1#f", "csv": "a,b,,c", "num": "0x1F", "nested": {"a": {"b": {"c": "deep"}}}}'
atoms = ['.Values.s', '.Values.n', '.Values.f', '.Values.neg', '.Values.l', '.Values.m', '.Values.b', '.Values.e', '.Values.ver', '.Values.url', '.Values.csv', '.Values.num', '.Values.nested', '.Values.m.z', '.Values.nope',
         '"abc def"', '"Ünïcode"', '"  pad  "', '"a-b_c d"', '"1.2.3"', '"%"', '42', '0', '-7', '3.14159', '1e21', '0.000001', 'true', '(list)', '(dict)', '(list 3 1 2)', '(dict "b" 2 "a" 1)', '(until 4)']
verbs = ['%v', '%d', '%s', '%q', '%x', '%5v', '%-6v|', '%.2f', '%e', '%g', '%T', '%t', '%08.3f', '%+d', '%#v', '%c', '%U', '%o', '%b', '%X', '%10.4s']
fns1 = ['upper','lower','title','untitle','trim','nospace','snakecase','camelcase','kebabcase','swapcase','initials','quote','squote','toString','b64enc','b32enc','sha256sum','adler32sum','len','empty','not','typeOf','kindOf','toJson','toPrettyJson','toRawJson','int','int64','float64','floor','ceil','add1','first','last','rest','initial','reverse','uniq','compact','sortAlpha','keys','values','toStrings','urlParse','semver','base','dir','ext','clean','regexQuoteMeta','html','js','urlquery','print','println','deepCopy']
fns2 = ['add','sub','mul','div','mod','max','min','addf','subf','mulf','divf','maxf','minf','eq','ne','lt','le','gt','ge','and','or','default','coalesce','contains','hasPrefix','hasSuffix','trimAll','trimPrefix','trimSuffix','repeat','trunc','abbrev','indent','nindent','wrap','cat','join','splitList','split','has','append','prepend','without','index','get','hasKey','pick','omit','dig "a"','regexMatch','regexFind','semverCompare','ternary "T"','plural "1"','concat','chunk','until','round','substr 1','replace "a"','regexReplaceAll "[aeiou]"','regexSplit ","','splitn "," ','abbrevboth 3','wrapWith 4']
def e(d=0):
    r = random.random()
    if d >= 3 or r < 0.35: return random.choice(atoms)
    if r < 0.6: return f'({random.choice(fns1)} {e(d+1)})'
    if r < 0.9: return f'({random.choice(fns2)} {e(d+1)} {e(d+1)})'
    return f'(printf "{random.choice(verbs)}" {e(d+1)})'
out=[]
for i in range(int(sys.argv[2])):
    kind = random.random()
    if kind < 0.6:
        t = '{{ ' + e() + ' }}'
    elif kind < 0.75:
        t = '{{ range $k, $v := ' + e(1) + ' }}[{{ $k }}={{ $v }}]{{ else }}none{{ end }}'
    elif kind < 0.9:
        t = '{{ with ' + e(1) + ' }}W{{ . }}{{ else }}E{{ end }}|{{ if ' + e(1) + ' }}T{{ else }}F{{ end }}'
    else:
        t = '{{ $x := ' + e(1) + ' }}{{ $x = ' + e(1) + ' }}{{ $x }}'
    out.append(f'### r{sys.argv[1]} {i}\n{t}\n--- values\n{vals}\n')
print(''.join(out))
