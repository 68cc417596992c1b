"""gym-cards games (RL4VLM): NumberLine, EZPoints, Points24, Blackjack, drawn as card images."""
