-- The floor of any round trip.
SELECT 1;
