"""Merges per-fold evaluate reports: every subject once (its first fold) for the per-subject
figures; curve points pooled (n-weighted) over the reports given with --curve (default: all)."""
import json, sys, math

def stat(v):
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / len(v)), len(v)

def pooled(stats):
    n = sum(s['n'] for s in stats)
    m = sum(s['n'] * s['mean'] for s in stats) / n
    var = sum(s['n'] * (s['std'] ** 2 + s['mean'] ** 2) for s in stats) / n - m * m
    return m, math.sqrt(max(var, 0)), n

args = sys.argv[1:]
curve_files = None
if '--curve' in args:
    i = args.index('--curve')
    curve_files = args[i + 1].split(',')
    args = args[:i] + args[i + 2:]
reps = {p: json.load(open(p)) for p in args}
subjects, seen = [], set()
for p, r in sorted(reps.items(), key=lambda kv: min(f['fold'] for f in kv[1]['folds'])):
    for s in r['per_subject']:
        if s['subject'] not in seen:
            seen.add(s['subject'])
            subjects.append(s)
fmt = lambda t: f"{t[0]:.4f} ± {t[1]:.4f} (n {t[2]})"
folds = sorted(f['fold'] for r in reps.values() for f in r['folds'])
print("subjects", len(subjects), "folds", folds)
print("gs", fmt(stat([f['gs'] for r in reps.values() for f in r['folds']])))
print("ps_gm", fmt(stat([s['ps_gm'] for s in subjects])))
methods = sorted(next(iter(reps.values()))['methods'])
for m in methods:
    for key in ['ps_pm', 'ps_pm_int8', 'ps_pm_known', 'ps_pm_novel']:
        v = [s.get(key, {}).get(m) for s in subjects]
        v = [x for x in v if x is not None]
        if v:
            print(key, m, fmt(stat(v)), ">= 0.85:", sum(x >= 0.85 for x in v))
    for key in ['int8_agreement', 'personalize_seconds']:
        st = [r['methods'][m][key] for r in reps.values() if r['methods'][m].get(key)]
        if st:
            print(key, m, fmt(pooled(st)), "(pooled over reports)")
cr = [reps[p] for p in (curve_files or reps)]
g = [r['ps_gm_curve'] for r in cr if r.get('ps_gm_curve')]
if g:
    print('ps_gm on the curve test set', fmt(pooled(g)))
for m in methods:
    for key in ['learning_curve', 'learning_curve_known', 'learning_curve_novel']:
        ks = sorted({p['windows_per_class'] for r in cr for p in r['methods'][m].get(key, [])})
        if ks:
            row = [f"K={k}: {pooled([p['accuracy'] for r in cr for p in r['methods'][m].get(key, []) if p['windows_per_class'] == k])[0]:.4f}" for k in ks]
            print(m, key, "; ".join(row))
a = [(s['ps_pm'].get('anchored'), s['ps_pm'].get('replay'), s['ps_gm']) for s in subjects]
print("subjects with anchored >= PS(GM) at K = 15:", sum(x[0] >= x[2] for x in a), "of", len(a))
print("subjects with anchored >= replay at K = 15:", sum(x[1] is not None and x[0] >= x[1] for x in a), "of", len(a))
