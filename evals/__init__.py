"""memspy.evals."""
__all__: list[str] = []
