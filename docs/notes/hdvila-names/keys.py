# Enumerate official HD-VILA (stage 1 / stage 2) state-dict keys and ours (hdvila-base), pure python.
from collections import OrderedDict
H=1024; V=30522; I=4096
def bn(p,c,d):
    d[p+'.weight']=(c,); d[p+'.bias']=(c,); d[p+'.running_mean']=(c,); d[p+'.running_var']=(c,); d[p+'.num_batches_tracked']=()
def resnet(p,d,stages=4):
    d[p+'conv1.weight']=(64,3,7,7); bn(p+'bn1',64,d)
    inpl=64
    for s,(n,w) in enumerate(zip([3,4,6,3],[64,128,256,512])):
        if s>=stages: break
        for b in range(n):
            q=f'{p}layer{s+1}.{b}.'
            cin = inpl if b==0 else w*4
            d[q+'conv1.weight']=(w,cin,1,1); bn(q+'bn1',w,d)
            d[q+'conv2.weight']=(w,w,3,3); bn(q+'bn2',w,d)
            d[q+'conv3.weight']=(w*4,w,1,1); bn(q+'bn3',w*4,d)
            if b==0:
                d[q+'downsample.0.weight']=(w*4,cin,1,1); bn(q+'downsample.1',w*4,d)
        inpl=w*4
def lin(p,o,i,d,bias=True):
    d[p+'.weight']=(o,i)
    if bias: d[p+'.bias']=(o,)
def ln(p,c,d): d[p+'.weight']=(c,); d[p+'.bias']=(c,)
def bertlayer(p,d):
    for n in ['query','key','value']: lin(p+'attention.self.'+n,H,H,d)
    lin(p+'attention.output.dense',H,H,d); ln(p+'attention.output.LayerNorm',H,d)
    lin(p+'intermediate.dense',I,H,d); lin(p+'output.dense',H,I,d); ln(p+'output.LayerNorm',H,d)
def tsblock(p,d,ours=False):
    ln(p+'norm1',H,d); lin(p+'attn.qkv',3*H,H,d); lin(p+'attn.proj',H,H,d)
    ln(p+'temporal_norm1',H,d); lin(p+'temporal_attn.qkv',3*H,H,d); lin(p+'temporal_attn.proj',H,H,d)
    lin(p+'temporal_fc',H,H,d); ln(p+'norm2',H,d); lin(p+'mlp.fc1',I,H,d); lin(p+'mlp.fc2',H,I,d)
def official(stage):
    d=OrderedDict()
    resnet('cnn.',d); resnet('cnn_low.',d)
    d['grid_encoder.0.weight']=(H,2048,1,1); d['grid_encoder_low.0.weight']=(H,1024,1,1)
    d['timesformer.pos_embed']=(1,160,H); d['timesformer.time_embed']=(1,7,H)
    for i in range(4): tsblock(f'timesformer.blocks.{i}.',d)
    ln('timesformer.norm',H,d)
    d['grid_encoder_combine.0.weight']=(H,2*H,1,1)
    t='transformer.'
    d[t+'bert.embeddings.word_embeddings.weight']=(V,H); d[t+'bert.embeddings.position_embeddings.weight']=(512,H)
    d[t+'bert.embeddings.token_type_embeddings.weight']=(2,H); ln(t+'bert.embeddings.LayerNorm',H,d)
    for i in range(12 if stage==1 else 24): bertlayer(f'{t}bert.encoder.layer.{i}.',d)
    lin(t+'bert.pooler1.dense',H,H,d)
    if stage==2:
        e=t+'bert.visual_embeddings.'
        d[e+'position_embeddings.weight']=(512,H); d[e+'row_position_embeddings.weight']=(100,H)
        d[e+'col_position_embeddings.weight']=(100,H); d[e+'token_type_embeddings.weight']=(1,H); ln(e+'LayerNorm',H,d)
        lin(t+'bert.pooler2.dense',H,H,d)
        c=t+'cls.'
        d[c+'predictions.bias']=(V,); lin(c+'predictions.transform.dense',H,H,d); ln(c+'predictions.transform.LayerNorm',H,d)
        d[c+'predictions.decoder.weight']=(V,H); d[c+'predictions.decoder.bias']=(V,)
        lin(c+'seq_relationship',2,H,d)
    lin(t+'t_proj',H,H,d); lin(t+'v_proj',H,H,d)
    return d
def ours():
    d=OrderedDict()
    d['bert.embeddings.word_embeddings.weight']=(V,H); d['bert.embeddings.position_embeddings.weight']=(512,H)
    d['bert.embeddings.token_type_embeddings.weight']=(2,H); ln('bert.embeddings.LayerNorm',H,d)
    for i in range(24): bertlayer(f'bert.encoder.layer.{i}.',d)
    lin('bert.pooler.dense',H,H,d)
    resnet('video.hr_backbone.',d); resnet('video.lr_backbone.',d)
    d['video.hr_proj.weight']=(H,2048,1,1); d['video.grid_encoder_low.weight']=(H,1024,1,1); d['video.grid_encoder_low.bias']=(H,)
    for i in range(4): tsblock(f'video.blocks.{i}.',d)
    d['video.pos_embed']=(1,160,H); d['video.time_embed']=(1,7,H)
    d['video.fuse.weight']=(H,2*H,1,1); d['video.fuse.bias']=(H,)
    e='visual_embeddings.'
    d[e+'row_embeddings.weight']=(100,H); d[e+'col_embeddings.weight']=(100,H); d[e+'type_embeddings.weight']=(1,H); ln(e+'LayerNorm',H,d)
    lin('text_proj',H,H,d); lin('video_proj',H,H,d)
    lin('mlm.transform.dense',H,H,d); ln('mlm.transform.LayerNorm',H,d); d['mlm.decoder.weight']=(V,H); d['mlm.bias']=(V,)
    return d
import math
def numel(s): return math.prod(s) if s else 1
def summary(name,d,skip_alias=()):
    n=len(d); bufs=[k for k in d if k.endswith(('running_mean','running_var','num_batches_tracked'))]
    params=sum(numel(s) for k,s in d.items() if k not in bufs and k not in skip_alias)
    print(f'{name}: {n} keys, {len(bufs)} BN buffer keys, {params:,} parameters (unique)')
o1=official(1); o2=official(2); us=ours()
summary('official stage1',o1); summary('official stage2',o2,skip_alias=('transformer.cls.predictions.decoder.bias',)); summary('ours hdvila-base',us)
import sys
if len(sys.argv)>1:
    for k,s in (o2 if sys.argv[1]=='o2' else o1 if sys.argv[1]=='o1' else us).items(): print(k,list(s))
