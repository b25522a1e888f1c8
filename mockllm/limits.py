"""How much one scenario may hold. Each bound keeps a hostile or mistaken
file (or a body posted to the control route) from freezing or exhausting the
server, and each is named in the error that refuses it. The largest built-in
scenario is under 3 KB, far inside every one of them.
"""

MAX_SOURCE_BYTES = 1024 * 1024  # of UTF-8 text; PyYAML composes about 1 MB in 3 s
MAX_DEPTH = 100  # nesting of mappings and lists, aliases followed
MAX_VALUES = 100_000  # YAML values (mappings, lists, scalars), each alias expanded
MAX_TOKENS = 100_000  # text tokens, tool-call fragments and steps of one scenario
MAX_FAULTS = 16  # faults in one list: they compose, and duplicate_done doubles every [DONE]
MAX_INT_DIGITS = 1000  # characters of a written whole number (Python refuses over 4300)
MAX_REGEX_MEMORY = 8 * 1024 * 1024  # bytes RE2 may use to compile one `match.prompt`
MAX_WRITES = 200_000  # writes `fragment` and `bandwidth` cut one response into (each costs a beat)
