"""Fourth randomized generator: printf with random flags/width/precision/verbs over mixed
arguments (missing, extra). `python3 gen_random4.py SEED COUNT`; record as for gen_random.py.
Two recorded cases were left out of oracle_random: `%+.0q` of an invalid rune (Go prints
'\ufffd') and `%#.2v` precision inside Go-syntax maps."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"s": "héllo", "n": 42, "f": -3.25, "big": 1e21, "tiny": 1e-9, "l": ["a", 1, null, true], "m": {"k": "v", "n": 2}, "b": true, "z": 0}'
args = ['.Values.s', '.Values.n', '.Values.f', '.Values.big', '.Values.tiny', '.Values.l', '.Values.m', '.Values.b', '.Values.z', '.Values.missing', '"str"', '""', '7', '-7', '0', '3.5', '-0.0', '1e6', '255', 'true', 'nil', '(add 1 2)', '(list 1 2)', '(dict "a" 1)', '(splitList "," "x,y")', '(until 2)', "'x'", '0x7fffffffffffffff']
flags = ['', '', '+', '-', '#', ' ', '0', '-0', '+0', ' 0', '#0']
verbs = 'vdsqxXobeEfFgGtcUT%'
def spec():
    f = random.choice(flags)
    w = random.choice(['', '', '5', '1', '12'])
    p = random.choice(['', '', '.0', '.2', '.6', '.'])
    return '%' + f + w + p + random.choice(verbs)
out = []
for i in range(int(sys.argv[2])):
    n = random.randint(1, 3)
    fmt = '|'.join(spec() for _ in range(n))
    k = random.randint(max(0, n - 1), n + 1)
    a = ' '.join(random.choice(args) for _ in range(k))
    out.append(f'### p{sys.argv[1]} {i}\n{{{{ printf "{fmt}" {a} }}}}\n--- values\n{vals}\n')
print(''.join(out))
