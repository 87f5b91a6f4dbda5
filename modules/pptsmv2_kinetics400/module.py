"""pptsmv2_kinetics400: Kinetics-400 action recognition with PP-TSMv2. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="pptsmv2_kinetics400",
    version="1.0.0",
    summary="PP-TSMv2 (PP-LCNetV2 base), Kinetics-400, 8 segments at 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class PPTSMv2Kinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run pptsmv2_kinetics400 --input_path x.mp4`."""
