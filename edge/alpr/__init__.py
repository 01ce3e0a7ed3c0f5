"""Licence plate reading on the box: ONNX models, multi-frame consensus, hot lists.

`base` holds the backend interface and the data every part passes around;
`backends` the factory; `fast` (HyperLPR3 detector + fast-plate-ocr) and
`offline` (PP-OCRv4 from the rapidocr wheel) the two backends; `formats`,
`matching`, `tracker` the pure policy; `frames` the per-camera decoder on the
camera fan-out and `service` the plate reader that drives it all; `reads` the
SQLite store on the box; `events` what of a read may leave the box.
"""
