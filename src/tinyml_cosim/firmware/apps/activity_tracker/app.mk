# activity_tracker: runs the int8 activity model (models/motion, named in app.yaml) through the project's kernels.
include nn/model.mk
