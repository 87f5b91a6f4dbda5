"""movinet_kinetics400: Kinetics-400 action recognition with MoViNet-A0. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="movinet_kinetics400",
    version="1.0.0",
    summary="MoViNet-A0 (3D, non-causal), Kinetics-400, 50 frames at 172x172",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class MoViNetKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run movinet_kinetics400 --input_path x.mp4`."""
