"""timesformer_kinetics400: Kinetics-400 action recognition with TimeSformer. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="timesformer_kinetics400",
    version="1.0.0",
    summary="TimeSformer ViT-B/16 (divided space-time attention), Kinetics-400, 8 frames x 3 crops at 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class TimeSformerKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run timesformer_kinetics400 --input_path x.mp4`."""
