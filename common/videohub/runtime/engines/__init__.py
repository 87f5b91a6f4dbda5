"""Inference engines, one file each. To add one, write `<name>.py` here: a `BasePredictor` subclass and
`register_engine(Engine(name, build, precisions, packages))` (see `videohub.runtime.predictor`). A card
lists the engines verified for its model; `videohub.runtime.choice` picks among them."""
