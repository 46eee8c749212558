DROP TABLE field_keys;
