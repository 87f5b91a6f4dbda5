"""videoswin_kinetics400: Kinetics-400 action recognition with Video Swin-S. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="videoswin_kinetics400",
    version="1.0.0",
    summary="Video Swin Transformer Swin-S, Kinetics-400, 32 frames (interval 2) at 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class VideoSwinKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run videoswin_kinetics400 --input_path x.mp4`."""
