#!/usr/bin/env python3
"""Writes a perturbed copy of a Packages file (cwd/Packages -> cwd/P<seed>) for
comparing `sonic-lock check` with dose-distcheck on many broken packages:
drops 0.4% of the stanzas, adds a Conflicts on a random package to 0.6% and
a versioned Breaks to 0.4%. Usage: perturb_index.py SEED"""
import random, sys
seed=int(sys.argv[1]); random.seed(seed)
paras=open('Packages').read().split('\n\n')
paras=[p for p in paras if p.strip()]
names=[p.split('\n',1)[0][9:] for p in paras]
out=[]
for p in paras:
    r=random.random()
    if r<0.004: continue  # drop
    if r<0.010:
        tgt=random.choice(names)
        lines=p.split('\n')
        if any(l.startswith('Conflicts:') for l in lines):
            lines=[l+', '+tgt if l.startswith('Conflicts:') else l for l in lines]
        else:
            lines.insert(2,'Conflicts: '+tgt)
        p='\n'.join(lines)
    elif r<0.014:
        tgt=random.choice(names)
        lines=p.split('\n')
        lines.insert(2,'Breaks: '+tgt+' (<< 999:0)')
        p='\n'.join(lines)
    out.append(p)
open('P%d'%seed,'w').write('\n\n'.join(out)+'\n')
