"""The protocol cores that several tasks share; tasks import protocols, never each other.

- amg.py: SAM's automatic mask generator settings (SOD, UVO and the demo start from them);
- sam_pt/: SAM-PT's video protocol (DAVIS, UVO): options.py (parameters and sources), query_points.py, frames.py,
  segment.py (tracked points -> SAM -> masks, per frame), merge.py (objects -> one id map), vos.py (the video loop).
"""
