"""stnet_kinetics400: Kinetics-400 action recognition with StNet. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="stnet_kinetics400",
    version="2.0.0",
    summary="StNet ResNet-50, Kinetics-400, 25 segments x 5 frames super-images at 256x256",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class StNetKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run stnet_kinetics400 --input_path x.mp4`."""
