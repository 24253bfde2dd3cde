"""A retrieval FAQ chatbot: TF-IDF + fuzzy matching over an editable knowledge file."""

__version__ = "0.1.0"
