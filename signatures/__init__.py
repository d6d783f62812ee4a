"""memspy.signatures."""
__all__: list[str] = []
