"""What both sides of Clearance stand on: domain errors, audit, access, crypto, transitions."""
