"""tsn_kinetics400: Kinetics-400 action recognition with TSN. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="tsn_kinetics400",
    version="1.0.0",
    summary="TSN ResNet-50, Kinetics-400, 25 segments x TenCrop at 224x224 (PaddleVideo predictor)",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class TSNKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run tsn_kinetics400 --input_path x.mp4`."""
