"""leadstatus: owns the status of sales leads."""
