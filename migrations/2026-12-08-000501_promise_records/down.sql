DROP TABLE promise_records;
