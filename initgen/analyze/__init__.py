"""Weight files → numbers: streaming statistics (:mod:`.stats`, :mod:`.moments`), layer
patterns (:mod:`.grouping`), checks against recorded schemes and rules (:mod:`.checks`),
byte-exact verification (:mod:`.verify`) and comparisons of two files (:mod:`.diff`)."""
