"""Licence plate reading on the box: ONNX models, multi-frame consensus, hot lists.

`base` holds the backend interface and the data every part passes around;
`backends` the factory; `fast` (HyperLPR3 detector + fast-plate-ocr) and
`offline` (PP-OCRv4 from the rapidocr wheel) the two backends; `formats`,
`matching`, `tracker` the pure policy; `analyser` the per-camera loop on the
camera fan-out; `reads` the SQLite store on the box.
"""
