# Searches the module graph of `cargo modules dependencies` (on stdin) for
# cycles between sibling modules; a module and its own children aside.
# See docs/architecture.md, "Module dependencies". Prints `no cycles` or
# each strongly connected set with its edges.
import re,sys,collections
edges=collections.defaultdict(set)
for line in sys.stdin:
    m=re.match(r'\s*"([^"]+)" -> "([^"]+)" \[label="uses"',line)
    if not m: continue
    a,b=m.groups()
    pa=a.split('::'); pb=b.split('::')
    # common prefix
    i=0
    while i<min(len(pa),len(pb)) and pa[i]==pb[i]: i+=1
    if i==len(pa) or i==len(pb): continue  # parent/child
    sa='::'.join(pa[:i+1]); sb='::'.join(pb[:i+1])
    edges[sa].add(sb)
# tarjan
idx={};low={};st=[];on=set();res=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
sys.setrecursionlimit(10000)
for v in list(edges): 
    if v not in idx: sc(v)
for r in res: print(len(r),sorted(r))
if not res: print("no cycles")
for r in res:
    s=set(r)
    for a in sorted(r):
        print(' ',a,'->',sorted(x for x in edges[a] if x in s))
