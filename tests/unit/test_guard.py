"""The pure checks on decoded text: degenerate output and signs of hallucination."""

from __future__ import annotations

from agent.asr import guard


def test_a_loop_is_found_and_a_short_repeat_is_not() -> None:
    assert guard.repeated(guard.words("you you you you")) == "you"
    assert guard.repeated(guard.words("thank you thank you thank you thank you")) == "thank you"
    assert guard.repeated(guard.words("press tab then press tab then press tab")) == ""
    assert guard.repeated(guard.words("a b c d e f g")) == ""
    assert guard.repeated([]) == ""


def test_compression_ratio_marks_repetitive_text() -> None:
    loop = "I'm going to go to the store. " * 6
    assert guard.compression_ratio(loop) > guard.COMPRESSION_RATIO_MAX
    assert guard.compression_ratio("The printer on the second floor is broken again.") < 1.5
    assert guard.compression_ratio("") == 0.0


def test_text_said_twice_over() -> None:
    assert guard.said_twice("Open terminal. Open terminal.") == "open terminal"
    assert guard.said_twice("copy, copy, copy") == "copy"
    assert guard.said_twice("Copy.") == ""
    assert guard.said_twice("select all then copy") == ""
    assert guard.said_twice("new tab then new") == ""
    assert guard.said_twice("") == ""


def test_degenerate_decodes() -> None:
    assert guard.degenerate("Open terminal.", 1.2) == ""
    assert guard.degenerate("The printer on the second floor is broken again.", 2.6) == ""
    assert "did not stop" in guard.degenerate("a b c", 1.0, hit_cap=True)
    assert "repeated" in guard.degenerate("you you you you you", 3.0)
    assert "repetitive" in guard.degenerate("I'm going to go to the store. " * 6, 30.0)
    # 30 words cannot be said in a second; they can in 10 s
    thirty = " ".join(f"w{i}" for i in range(30))
    assert guard.degenerate(thirty, 1.0) == "30 words in 1.0 s"
    assert guard.degenerate(thirty, 10.0) == ""


def test_text_longer_than_the_audio_could_hold() -> None:
    # issue 18: 3,000 words answered for a 1.23 s utterance; 1 MB of text
    assert guard.overlong(" ".join(["word"] * 3000), 1.23) == "3000 words in 1.2 s"
    assert guard.overlong("Open the terminal and then scroll down twice.", 1.23) == ""
    assert guard.overlong(" ".join(["word"] * 13), 1.0) == "13 words in 1.0 s"
    assert guard.overlong(" ".join(["word"] * 12), 1.0) == ""
    # one "word" of 300 letters: no word count catches it, its length does
    assert guard.overlong("a" * 300, 1.0) == "300 characters in 1.0 s"
    assert guard.overlong("Supercalifragilisticexpialidocious!", 0.5) == ""
    assert guard.overlong("x", -1.0) == ""


def test_nothing_decoded_is_broken_only_where_speech_was_likely() -> None:
    assert guard.degenerate("", 1.0, no_speech_prob=0.1) == "nothing decoded from speech"
    assert guard.degenerate(" . ", 1.0, no_speech_prob=0.1) == "nothing decoded from speech"
    assert guard.degenerate("", 1.0, no_speech_prob=0.9) == ""


def test_the_token_cap_grows_with_the_audio() -> None:
    assert guard.token_cap(0.0) == guard.TOKENS_FLOOR
    assert guard.token_cap(-1.0) == guard.TOKENS_FLOOR
    assert guard.token_cap(1.0) < guard.token_cap(10.0)
    # 25 s of speech at 3 words/s, 1.3 tokens a word, fits
    assert guard.token_cap(25.0) > 25 * 3 * 1.3


def test_hallucination_signals() -> None:
    assert guard.hallucination_doubt(-0.3, 0.05) == ""
    # silence heard as "Thank you." by whisper: speech unlikely and not confident
    assert "speech unlikely" in guard.hallucination_doubt(-1.16, 0.79)
    # likely silence but a confident decode is kept (a quiet, clear command)
    assert guard.hallucination_doubt(-0.4, 0.8) == ""
    assert "low confidence" in guard.hallucination_doubt(guard.LOGPROB_FLOOR - 0.1, 0.0)


def test_coverage_doubts_few_words_for_much_speech() -> None:
    assert guard.coverage_doubt("Open terminal.", 25.0) == "2 words for 25.0 s of voiced audio"
    assert guard.coverage_doubt("copy", 0.6) == ""
    assert guard.coverage_doubt("press down five times", 3.5) == ""
    assert guard.coverage_doubt("Copy.", 8.0) == "1 word for 8.0 s of voiced audio"
    # ordinary speech at 175 wpm (2.9 words/s) is never doubted
    assert guard.coverage_doubt(" ".join(["word"] * 73), 25.0) == ""
    assert guard.coverage_doubt("", 25.0) == ""  # nothing heard: nothing to act on
