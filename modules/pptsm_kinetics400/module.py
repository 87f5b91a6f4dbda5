"""pptsm_kinetics400: Kinetics-400 action recognition with PP-TSM. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="pptsm_kinetics400",
    version="1.0.0",
    summary="PP-TSM ResNet-50-vd, Kinetics-400, 8 segments at 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class PPTSMKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run pptsm_kinetics400 --input_path x.mp4`."""
