"""Pose estimation backends.

Every backend turns a source (a video file, a saved track, a truth file) into a
:class:`gaitcheck.track.PoseTrack`; everything after this stage is backend-agnostic.
The MediaPipe backend is imported lazily so that the rest of the package (and its tests)
runs without the model.
"""
