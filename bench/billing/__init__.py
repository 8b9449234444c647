"""A month of the desk under moto, metered as AWS bills it (bench/monthly_bill.py)."""
