from bot.cli import main

if __name__ == "__main__":  # multiprocessing (the SMTP listener) may import this module
    main()
