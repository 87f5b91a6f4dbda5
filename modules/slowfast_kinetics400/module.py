"""slowfast_kinetics400: Kinetics-400 action recognition with SlowFast. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="slowfast_kinetics400",
    version="1.0.0",
    summary="SlowFast R50 4x16, Kinetics-400, 32 frames (slow 4) at 256x256",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class SlowFastKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run slowfast_kinetics400 --input_path x.mp4`."""
