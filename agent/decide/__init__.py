"""The decide stage: one utterance's hearing in, the transcript acted on and its Decision out.

decider.py is the one pass (the first reading, the grammar's answer, the reading taken,
the dispatcher acting on it) and the free-text decode; second.py the second tries of a
reading that matched nothing; keys.py the check of a key others sound like; intent.py
the recogniser's pick of commands as tool calls; heard.py the stage's input.
"""

from agent.decide.decider import Decider
from agent.decide.heard import Heard

__all__ = ["Decider", "Heard"]
