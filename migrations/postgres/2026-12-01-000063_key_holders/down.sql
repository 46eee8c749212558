DROP TABLE key_holders;
