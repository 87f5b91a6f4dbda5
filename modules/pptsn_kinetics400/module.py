"""pptsn_kinetics400: Kinetics-400 action recognition with PP-TSN. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="pptsn_kinetics400",
    version="1.0.0",
    summary="PP-TSN ResNet-50-vd, Kinetics-400, 25 segments x TenCrop at 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class PPTSNKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run pptsn_kinetics400 --input_path x.mp4`."""
