"""Grid puzzles of verl-agent and RAGEN: Sokoban (rooms generated here) and FrozenLake (Gymnasium's toy-text
rules), with text and image observations and a solver as the expert."""
