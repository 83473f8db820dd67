"""Figures, Markdown tables and the visual Turing test kit of the report stage.

`style` holds the one figure style, `figures` the study's figures,
`vtt` / `vtt_sheet` / `vtt_score` the visual Turing test (make a blinded
set with its answer sheet; score raters' answers).
"""
