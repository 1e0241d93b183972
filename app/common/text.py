"""What counts as written text: the letters and digits a reader sees.

A minimum length is about meaning, so it counts only Unicode letters (L*, Chinese included) and digits (N*):
zero-width spaces and joiners, punctuation, symbols and emoji make no complaint, no reply and no draft
("。。。。。" or five U+200B passed a five-character minimum and notified a resident of an empty answer). A
maximum counts every character, since it bounds what is stored.
"""
import unicodedata


def visible_length(text):
    """How many letters and digits `text` holds."""
    return sum(1 for ch in text or "" if unicodedata.category(ch)[0] in "LN")
