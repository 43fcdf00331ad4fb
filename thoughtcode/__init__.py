"""thoughtcode: qualitative coding of human-AI conversations.

Data flows one way: corpus -> units -> coders -> labels table -> agreement / analyses -> reports.
"""

__version__ = "0.1.0"
