"""Third randomized generator: random template structure (text, trim markers, comments,
nested if/else if/with/range with break/continue/else, variables, template calls). The root
(`.` at top level) is never printed, since Helm's root holds objects the test data lacks.
`python3 gen_random3.py SEED COUNT`; record as for gen_random.py."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"a": 1, "b": "", "c": "cc", "l": [1, "x", null, {"k": "v"}], "m": {"q": 1, "p": [2, 3], "r": {"s": "t"}}, "t": true, "f": false}'
texts = ['x', ' ', '\n', '  \n  ', 'a b', '\t', '-', 'yes\n', '']
conds = ['.Values.a', '.Values.b', '.Values.c', '.Values.l', '.Values.m', '.Values.t', '.Values.f', '.Values.missing', '$v', '(eq .Values.a 1.0)', '(not .Values.t)', '(and .Values.a .Values.c)', '(or .Values.b .Values.f)']
colls = ['.Values.l', '.Values.m', '.Values.m.p', '.Values.missing', '(list)', '(dict "z" 1 "y" 2)', '(until 3)', '.Values.m.r', '(splitList "," "a,b")']
outs = ['$v', '$i', '.Values.c', '$.Values.a', '(len $.Values.l)', '$x', '(toJson $.Values.m)', '(typeOf $v)', '(printf "%v" $.Values.l)']
def tm():
    return random.choice(['', '', '-']), random.choice(['', '', '-'])
def act(body):
    l, r = tm()
    lsp = ' ' if l else random.choice([' ', '', '  '])
    rsp = ' ' if r else random.choice([' ', '', ' '])
    return '{{' + l + lsp + body + rsp + r + '}}'
def block(d=0):
    out = []
    for _ in range(random.randint(1, 4)):
        r = random.random()
        if r < 0.3 or d > 2:
            out.append(random.choice(texts))
        elif r < 0.45:
            out.append(act(random.choice(outs)))
        elif r < 0.55:
            out.append(act(random.choice(['if', 'with']) + ' ' + random.choice(conds)) + block(d+1) + (act('else') + block(d+1) if random.random() < 0.5 else '') + act('end'))
        elif r < 0.65:
            out.append(act('if ' + random.choice(conds)) + block(d+1) + act('else if ' + random.choice(conds)) + block(d+1) + act('end'))
        elif r < 0.8:
            decl = random.choice(['', '$v := ', '$i, $v := '])
            out.append(act('range ' + decl + random.choice(colls)) + block(d+1) + (act(random.choice(['break', 'continue'])) if random.random() < 0.2 else '') + (act('else') + block(d+1) if random.random() < 0.3 else '') + act('end'))
        elif r < 0.88:
            out.append(act('$x := ' + random.choice(conds)) + random.choice(texts))
        elif r < 0.94:
            out.append(act('/* c */') if random.random() < 0.5 else '{{- /* c\n */ -}}')
        else:
            out.append(act('template "t" ' + random.choice(conds)))
    return ''.join(out)
cases = []
for i in range(int(sys.argv[2])):
    body = block()
    t = '{{- define "t" -}}[{{ . }}]{{- end -}}' + '{{ $v := 0 }}{{ $i := 0 }}{{ $x := 0 }}' + body
    cases.append(f'### s{sys.argv[1]} {i}\n{t}\n--- values\n{vals}\n')
print(''.join(cases))
