"""Synthetic data for the demo and the tests: nothing here is read when a user brings real images.

- `phantom`: radiograph-like phantoms (bones, soft tissue, markers, noise).
- `export`: a synthetic DICOM export of elbow studies (rule demo_data).
- `body_parts`: phantoms of several body parts in MURA and LERA folder layout,
  the demo input of the medfid stage (rule medfid_demo_data).
"""
