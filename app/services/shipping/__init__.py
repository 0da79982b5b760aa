"""Return shipping: prepaid labels bought from the carrier (`labels`), the carrier's tracking
events (`tracking`), and the shop's shipping settings (`settings`)."""
