"""Sixth randomized generator: Go layout formatting/parsing (date, toDate, dateModify,
unixEpoch), durations, and Masterminds semver constraints/versions, all with fixed inputs.
`python3 gen_random6.py SEED COUNT`; record as for gen_random.py."""
import random, sys
random.seed(int(sys.argv[1]))
vals = '{"ts": 1700000000, "v": "1.2.3"}'
layouts = ['2006-01-02', '2006-01-02T15:04:05Z07:00', 'Jan 2, 2006 at 3:04pm (MST)', 'Mon Jan _2 15:04:05 2006', '02/01/06 15:04:05.000', '2006.002', 'January 2 2006 03:04:05 PM', '15:04:05.999999', '060102150405', 'Monday', '2006-01-02 15:04:05 -0700', '3:04PM', '.000 .999 ,000']
stamps = ['0', '86399', '951782400', '1700000000', '1709212455', '-1', '4102444800', '1234567890', '(int64 1600000000)']
dates = [('2006-01-02', '2024-02-29'), ('2006-01-02 15:04', '1999-12-31 23:59'), ('2006-01-02T15:04:05Z07:00', '2024-06-01T12:30:45+02:00'), ('02/01/2006', '31/12/2020'), ('2006-01-02', 'bad'), ('Jan 2 2006', 'Mar 15 2023'), ('2006-01-02T15:04:05.000Z', '2021-01-01T00:00:00.123Z')]
mods = ['"+1h"', '"-30m"', '"1.5h"', '"24h"', '"-72h10m5s"', '"90s"', '"1h2m3.5s"', '"bad"', '"500ms"']
durs = ['"3661"', '"59"', '"86400"', '"0"', '"-5"', '(int64 90061)', '"x"']
rounds = ['"2h10m"', '"90s"', '"400h"', '"1h30m"', '"3m"', '"720h"', '"8760h"', '"1s"', '"100ms"', '"-2h"', '(int64 3600000000000)', '"59s"', '"61m"']
cons = ['">=1.2.3"', '"^1.2"', '"~1.2.3"', '"1.2.x"', '"< 2.0.0 >= 1.0.0"', '"!=1.2.3"', '">1.0 <2.0 || >3.0"', '"1.2 - 1.4"', '"*"', '"~1"', '"^0.0.1"', '"=1.2.3-beta"', '">=1.19-0"', '"<1.2.3-alpha"', '"1.x"', '"~> 1.2"', '"^0.2"', '">= 1.2, < 1.5"', '"2.0"']
vers = ['"1.2.3"', '"v1.2.3"', '"1.2.3-beta.1"', '"1.3.0"', '"2.0.0"', '"0.0.1"', '"0.2.5"', '"1.19.0-0"', '"v1.27.3-gke.100"', '"1.2"', '"1"', '"1.4.9"', '"3.1.0"', '"1.2.3+build"', '"1.10.0"']
out=[]
for i in range(int(sys.argv[2])):
    k = random.random()
    if k < 0.25:
        t = '{{ date "%s" %s }}' % (random.choice(layouts), random.choice(stamps))
    elif k < 0.4:
        l, d = random.choice(dates)
        t = '{{ toDate "%s" "%s" | date "%s" }}|{{ toDate "%s" "%s" | unixEpoch }}' % (l, d, random.choice(layouts), l, d)
    elif k < 0.5:
        l, d = random.choice(dates)
        t = '{{ toDate "%s" "%s" | dateModify %s | date "%s" }}' % (l, d, random.choice(mods), random.choice(layouts))
    elif k < 0.6:
        t = '{{ duration %s }}|{{ durationRound %s }}' % (random.choice(durs), random.choice(rounds))
    elif k < 0.9:
        t = '{{ semverCompare %s %s }}' % (random.choice(cons), random.choice(vers))
    else:
        t = '{{ $v := semver %s }}{{ $v }} {{ $v.Major }} {{ $v.Prerelease }}' % random.choice(vers)
    out.append(f'### d{sys.argv[1]} {i}\n{t}\n--- values\n{vals}\n')
print(''.join(out))
