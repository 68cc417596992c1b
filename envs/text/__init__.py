"""Text-only tasks for text LLMs: Countdown, Arithmetic, logic puzzles, MathQA."""
