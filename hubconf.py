"""PaddleHub git source: `hub.Module(name="<module>", source="<this repository>")`.

PaddleHub reads the `from modules.<name>.module import <Class>` lines below (one package level deep).
Modules without weights import fine and say how to fetch or import them when constructed.
"""
from modules.attention_cluster_youtube8m.module import AttentionClusterYouTube8M  # noqa: F401
from modules.attention_lstm_youtube8m.module import AttentionLSTMYouTube8M  # noqa: F401
from modules.bmn_activitynet.module import BMNActivityNet  # noqa: F401
from modules.i3d_kinetics400.module import I3DKinetics400  # noqa: F401
from modules.movinet_kinetics400.module import MoViNetKinetics400  # noqa: F401
from modules.nextvlad_youtube8m.module import NeXtVLADYouTube8M  # noqa: F401
from modules.pptsm_kinetics400.module import PPTSMKinetics400  # noqa: F401
from modules.pptsmv2_kinetics400.module import PPTSMv2Kinetics400  # noqa: F401
from modules.pptsn_kinetics400.module import PPTSNKinetics400  # noqa: F401
from modules.slowfast_kinetics400.module import SlowFastKinetics400  # noqa: F401
from modules.stnet_kinetics400.module import StNetKinetics400  # noqa: F401
from modules.timesformer_kinetics400.module import TimeSformerKinetics400  # noqa: F401
from modules.tsm_kinetics400.module import TSMKinetics400  # noqa: F401
from modules.tsn_kinetics400.module import TSNKinetics400  # noqa: F401
from modules.videoswin_kinetics400.module import VideoSwinKinetics400  # noqa: F401
from modules.videotag_tsn_lstm.module import VideoTagTSNLSTM  # noqa: F401
