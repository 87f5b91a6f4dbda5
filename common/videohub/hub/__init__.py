"""The thin PaddleHub adapter: module bases a module's `module.py` names as `meta`, `hub run` and `hub serving`.

* `base.py` — card, weights check, labels, runtime; `classifier.py`, `sequence.py`, `proposals.py` — one base per
  module kind, each with only the methods that make sense for it;
* `cli.py` — `hub run` arguments, exit statuses, whole-run failures; `serving.py` — request limits and fields.
"""
from videohub.hub.base import VideoModuleBase
from videohub.hub.classifier import VideoClassifierModule
from videohub.hub.proposals import ProposalDetectorModule
from videohub.hub.sequence import FeatureClassifierModule, VideoSequenceModule

__all__ = ["VideoModuleBase", "VideoClassifierModule", "VideoSequenceModule", "FeatureClassifierModule",
           "ProposalDetectorModule"]
