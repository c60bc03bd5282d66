"""Qt widgets. Each takes the core objects it shows in its constructor; none does core work."""
