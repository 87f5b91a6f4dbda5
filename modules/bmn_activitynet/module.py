"""bmn_activitynet: temporal action proposals with BMN on ActivityNet-1.3 features. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import ProposalDetectorModule


@moduleinfo(
    name="bmn_activitynet",
    version="1.0.0",
    summary="BMN (Boundary-Matching Network), ActivityNet-1.3 temporal action proposals from 400-d x 100 features",
    author="videohub",
    author_email="",
    type="video/localization",
    meta=ProposalDetectorModule,
)
class BMNActivityNet:
    """`detect(features=[[100, 400] array], paths=["x.json", "y.npy"], duration=..., top_k=100)`;
    `hub run bmn_activitynet --input_path x.json`."""
