import re, sys
sys.argv=[sys.argv[0]]
import pathlib
exec((pathlib.Path(__file__).parent / 'keys.py').read_text())
RULES=[
 (r'^cnn\.(.*)$', r'video.hr_backbone.\1'),
 (r'^cnn_low\.(.*)$', r'video.lr_backbone.\1'),
 (r'^grid_encoder\.0\.weight$', 'video.hr_proj.weight'),
 (r'^grid_encoder_low\.0\.weight$', 'video.grid_encoder_low.weight'),
 (r'^grid_encoder_combine\.0\.weight$', 'video.fuse.weight'),
 (r'^timesformer\.(pos_embed|time_embed)$', r'video.\1'),
 (r'^timesformer\.blocks\.(\d+)\.(.*)$', r'video.blocks.\1.\2'),
 (r'^transformer\.bert\.(embeddings|encoder)\.(.*)$', r'bert.\1.\2'),
 (r'^transformer\.bert\.pooler1\.(.*)$', r'bert.pooler.\1'),
 (r'^transformer\.bert\.visual_embeddings\.row_position_embeddings\.(.*)$', r'visual_embeddings.row_embeddings.\1'),
 (r'^transformer\.bert\.visual_embeddings\.col_position_embeddings\.(.*)$', r'visual_embeddings.col_embeddings.\1'),
 (r'^transformer\.bert\.visual_embeddings\.token_type_embeddings\.(.*)$', r'visual_embeddings.type_embeddings.\1'),
 (r'^transformer\.bert\.visual_embeddings\.LayerNorm\.(.*)$', r'visual_embeddings.LayerNorm.\1'),
 (r'^transformer\.t_proj\.(.*)$', r'text_proj.\1'),
 (r'^transformer\.v_proj\.(.*)$', r'video_proj.\1'),
 (r'^transformer\.cls\.predictions\.transform\.(.*)$', r'mlm.transform.\1'),
 (r'^transformer\.cls\.predictions\.decoder\.weight$', 'mlm.decoder.weight'),
 (r'^transformer\.cls\.predictions\.bias$', 'mlm.bias'),
]
def m(k):
    for a,b in RULES:
        if re.match(a,k): return re.sub(a,b,k)
    return None
for stage,o in [(1,o1),(2,o2)]:
    hit=set(); un=[]; bad=[]
    for k,s in o.items():
        t=m(k)
        if t is None or t not in us: un.append((k,s)); continue
        if us[t]!=s: bad.append((k,s,t,us[t]))
        hit.add(t)
    print(f'--- stage {stage}: mapped {len(hit)}, official unmatched {len(un)}, shape mismatches {len(bad)}')
    for x in un: print('  official-only', x)
    for x in bad: print('  SHAPE', x)
    rest=[k for k in us if k not in hit]
    # compress by pattern
    pats={}
    for k in rest:
        p=re.sub(r'layer\.\d+\.','layer.N.',k); p=re.sub(r'^(video\.lr_backbone\.|video\.hr_backbone\.).*',r'\1*',p)
        pats.setdefault(p,0); pats[p]+=1
    for p,c in pats.items(): print('  ours-only', p, c)
