"""Fifth randomized generator: include/tpl/define interplay with shared-map mutation (set,
merge, unset, deepCopy) visible across templates. `python3 gen_random5.py SEED COUNT`; record as
for gen_random.py."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"a": {"x": 1, "y": [1, 2]}, "b": {"x": 2, "z": "zz"}, "name": "app", "list": ["p", "q"], "n": 3, "tplstr": "{{ .Values.name }}-{{ .Values.n }}"}'
defs = [
 '{{ define "show" }}<{{ . }}>{{ end }}',
 '{{ define "withvar" }}{{ $x := .k }}{{ $x }}:{{ .v | default "none" }}{{ end }}',
 '{{ define "mut" }}{{ $_ := set . "touched" true }}ok{{ end }}',
 '{{ define "rec" }}{{ if gt (int .) 0 }}{{ . }},{{ include "rec" (sub (int .) 1) }}{{ end }}{{ end }}',
 '{{ define "ctx" }}{{ .Values.name }}{{ end }}',
]
exprs = ['(include "show" .Values.a)', '(include "show" (dict "k" 1))', '(include "withvar" (dict "k" "K" "v" .Values.name))',
 '(include "withvar" (dict "k" "K"))', '(include "rec" 3)', '(include "ctx" .)', '(tpl .Values.tplstr .)',
 '(tpl "{{ define \\"inner\\" }}IN{{ end }}{{ include \\"inner\\" . }}" .)', '(tpl "{{ include \\"show\\" .Values.list }}" .)',
 '(include "show" (merge (dict "m" 1) .Values.a))', '(toJson (mergeOverwrite (deepCopy .Values.a) .Values.b))', '(toJson (merge (dict) .Values.a .Values.b))',
 '(include "show" (pick .Values.a "x"))', '(include "show" (omit .Values.b "x"))', '(len (include "rec" 5))', '(include "show" (dig "a" "y" "def" .Values))',
 '(upper (include "ctx" .))', '(include "show" (list (include "ctx" .) .Values.n))', '(tpl "{{ .x }}" (dict "x" "X"))', '(tpl "{{ template \\"show\\" 5 }}" .)']
stmts = ['{{ $_ := set .Values.a "k" "v" }}', '{{ $_ := include "mut" .Values.b }}', '{{ $d := dict "p" 1 }}{{ $_ := set $d "q" 2 }}{{ $d }}',
 '{{ $m := merge .Values.a .Values.b }}{{ toJson $m }}', '{{ $_ := unset .Values.b "z" }}', '{{ range $k, $v := .Values.a }}{{ $k }}={{ $v }};{{ end }}']
out=[]
for i in range(int(sys.argv[2])):
    body = ''.join(defs)
    for _ in range(random.randint(1, 4)):
        if random.random() < 0.6:
            body += '{{ ' + random.choice(exprs) + ' }}|'
        else:
            body += random.choice(stmts) + '|'
    body += '{{ toJson .Values.a }}{{ toJson .Values.b }}'
    out.append(f'### i{sys.argv[1]} {i}\n{body}\n--- values\n{vals}\n')
print(''.join(out))
